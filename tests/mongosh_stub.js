// Test stub for mongosh: runs a mongosh script under node against a simulated mongod.
//
// usage: node mongosh_stub.js STATE.json SCRIPT.js FILES_ROOT
//
// STATE.json is the simulated server (replica-set state, users, election progress) and a log of
// every command the script sent; it is read before and written after the run, so successive runs
// are successive healthchecks against one server, across restarts. The server follows the rules
// the script relies on (MongoDB 8.0 manual, "Localhost Exception", "rs.initiate()"):
// - hello needs no authentication; it names the set (setName) only once initiated, and reports a
//   writable primary only after an election that takes a few hello calls;
// - while no user exists, an unauthenticated localhost connection may initiate the set and create
//   the first user, on a primary only; once a user exists every other command needs authentication;
// - auth fails with code 18, an unauthorised command with 13, a second initiate with 23.
// The script's require('fs') reads below FILES_ROOT, where the test puts the secret files.
'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');

const [statePath, scriptPath, filesRoot] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
state.log = state.log || [];
let authenticatedAs = null;

class Quit extends Error {
  constructor(code) {
    super('quit');
    this.exitCode = code;
  }
}

function serverError(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}

const anyUser = () => Object.keys(state.users).length > 0;
const isPrimary = () => state.initiated && state.electionTicks <= 0;

function requireAuthorised(command) {
  if (anyUser() && authenticatedAs === null) {
    throw serverError(13, 'command ' + command + ' requires authentication');
  }
}

function database(name) {
  return {
    runCommand(command) {
      if (!('hello' in command)) {
        throw new Error('stub: unexpected command ' + JSON.stringify(command));
      }
      state.log.push({ op: 'hello' });
      if (!state.initiated) {
        return { isWritablePrimary: false, secondary: false, isreplicaset: true, ok: 1 };
      }
      if (state.electionTicks > 0) {
        state.electionTicks -= 1;
        return { setName: state.config._id, isWritablePrimary: false, secondary: true, ok: 1 };
      }
      return { setName: state.config._id, isWritablePrimary: true, ok: 1 };
    },
    auth(user, pwd) {
      state.log.push({ op: 'auth', db: name, user });
      const stored = state.users[name + '.' + user];
      if (!stored || stored.pwd !== pwd) {
        throw serverError(18, 'Authentication failed.');
      }
      authenticatedAs = user;
      return { ok: 1 };
    },
    createUser(document) {
      if (!isPrimary()) {
        throw serverError(10107, 'not primary');
      }
      requireAuthorised('createUser');
      const key = name + '.' + document.user;
      if (state.users[key]) {
        throw serverError(51003, 'User "' + key + '" already exists');
      }
      state.users[key] = { pwd: document.pwd, roles: document.roles };
      state.log.push({ op: 'createUser', db: name, user: document.user, roles: document.roles });
      return { ok: 1 };
    },
    getUser(user) {
      requireAuthorised('usersInfo');
      state.log.push({ op: 'getUser', db: name, user });
      const stored = state.users[name + '.' + user];
      return stored ? { user, db: name, roles: stored.roles } : null;
    },
  };
}

const context = {
  db: { getSiblingDB: database },
  rs: {
    initiate(config) {
      requireAuthorised('replSetInitiate');
      if (state.initiated) {
        throw serverError(23, 'already initialized');
      }
      state.log.push({ op: 'initiate', config });
      state.initiated = true;
      state.config = config;
      state.electionTicks = state.electionDelay || 0;
      return { ok: 1 };
    },
  },
  sleep(milliseconds) {
    state.log.push({ op: 'sleep', milliseconds });
  },
  print(...values) {
    process.stdout.write(values.join(' ') + '\n');
  },
  quit(code) {
    throw new Quit(code || 0);
  },
  require(module) {
    if (module !== 'fs') {
      throw new Error('stub: unexpected require ' + module);
    }
    return { readFileSync: (file, encoding) => fs.readFileSync(path.join(filesRoot, file), encoding) };
  },
};

let exitCode = 0;
try {
  vm.runInNewContext(fs.readFileSync(scriptPath, 'utf8'), context, { filename: scriptPath });
} catch (error) {
  if (error instanceof Quit) {
    exitCode = error.exitCode;
  } else {
    // As mongosh does with an uncaught error: print it and exit 1.
    process.stderr.write('Uncaught ' + (error.code ? 'MongoServerError[' + error.code + ']: ' : '') + error.message + '\n');
    exitCode = 1;
  }
}
fs.writeFileSync(statePath, JSON.stringify(state, null, 2));
process.exit(exitCode);
