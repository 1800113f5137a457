// The Rocket.Chat container's healthcheck (components/apps/rocketchat/spec.py). The image has node
// but no curl (RocketChat/Docker.Official.Image 8.5/Dockerfile purges it after the build).
//
// GET /api/info on the app's own port: Rocket.Chat's REST API answers it without authentication
// with {"version": ..., "success": true} once the server runs. The JSON is checked, not just the
// status: Meteor answers any unknown path with its HTML page and a 200. /health is not used: in
// Rocket.Chat 8 it logs a deprecation line on every call, and /livez reports 503 whenever the
// heap is 85% used (apps/meteor/server/routes/health.ts), which a Node heap often is.
const port = process.env.PORT || '3000';

fetch('http://127.0.0.1:' + port + '/api/info', { redirect: 'manual', signal: AbortSignal.timeout(5000) })
  .then(async (response) => {
    const body = response.ok ? await response.json() : {};
    process.exit(body.success === true ? 0 : 1);
  })
  .catch(() => process.exit(1));
