// The MongoDB container's healthcheck (components/services/mongodb.py renders CONFIG): brings the
// server to the state the app needs, idempotently, then reports it. Run by mongosh inside the
// container on every check, unauthenticated to 127.0.0.1 (the only connection the localhost
// exception covers), so a first start, a restart on existing data and a start that was cut short
// all converge the same way:
//   1. authenticate as root if the root user exists (its password is read from its file here, so
//      it never appears in argv, the environment or the healthcheck's recorded output);
//   2. initiate the single-member replica set if it never was (allowed through the localhost
//      exception while no user exists);
//   3. wait for this member to become primary (users can only be created on a primary);
//   4. create the root user if there is none yet (the localhost exception's one user), then
//      authenticate as it;
//   5. create the app's user if it is missing.
// Exit 0 only when this member is a writable primary and both users exist.
// Sources: MongoDB 8.0 manual, "Localhost Exception" (initiate, wait for a primary, then the first
// user) and "rs.initiate()"; docker-library/mongo 8.0/docker-entrypoint.sh (no initdb step runs,
// because no MONGO_INITDB_* variable and no /docker-entrypoint-initdb.d script is given).
const CONFIG = {{ config }};

const fs = require('fs');

const AUTHENTICATION_FAILED = 18;
const UNAUTHORIZED = 13;

function secret(path) {
  return fs.readFileSync(path, 'utf8').trim();
}

function problem(message) {
  // Printed into the container's health log: never a password, only what and where.
  print('selfhost-mongodb: ' + message);
  quit(1);
}

const admin = db.getSiblingDB('admin');

function authenticate() {
  try {
    admin.auth(CONFIG.rootUser, secret(CONFIG.rootPasswordFile));
    return true;
  } catch (error) {
    // mongosh's auth() reconnects with the credentials (service-provider-node-driver
    // resetConnectionOptions) and keeps the old, unauthenticated client when that fails.
    if (error.code === AUTHENTICATION_FAILED || /Authentication failed/.test(String(error.message))) {
      return false;
    }
    throw error;
  }
}

let authenticated = authenticate();

if (!admin.runCommand({ hello: 1 }).setName) {
  try {
    rs.initiate({ _id: CONFIG.replicaSet, members: [{ _id: 0, host: CONFIG.memberHost }] });
  } catch (error) {
    if (error.code === UNAUTHORIZED) {
      problem('the replica set is not initiated and the root user exists, but ' + CONFIG.rootPasswordFile +
        ' does not hold its password');
    }
    throw error;
  }
  print('selfhost-mongodb: initiated replica set ' + CONFIG.replicaSet);
}

let waited = 0;
while (!admin.runCommand({ hello: 1 }).isWritablePrimary) {
  if (waited >= CONFIG.primaryWaitMilliseconds) {
    problem('no writable primary yet after ' + waited + ' ms');
  }
  sleep(250);
  waited += 250;
}

if (!authenticated) {
  try {
    admin.createUser({
      user: CONFIG.rootUser,
      pwd: secret(CONFIG.rootPasswordFile),
      roles: [{ role: 'root', db: 'admin' }],
    });
  } catch (error) {
    if (error.code === UNAUTHORIZED) {
      problem('a user exists already, but ' + CONFIG.rootPasswordFile + ' does not hold the password of ' +
        CONFIG.rootUser);
    }
    throw error;
  }
  print('selfhost-mongodb: created user ' + CONFIG.rootUser);
  authenticated = authenticate();
  if (!authenticated) {
    problem('cannot authenticate as ' + CONFIG.rootUser + ' right after creating it');
  }
}

const appDb = db.getSiblingDB(CONFIG.database);
if (!appDb.getUser(CONFIG.user)) {
  appDb.createUser({ user: CONFIG.user, pwd: secret(CONFIG.passwordFile), roles: CONFIG.roles });
  print('selfhost-mongodb: created user ' + CONFIG.user + ' on ' + CONFIG.database);
}
