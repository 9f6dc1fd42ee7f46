// A local AT Protocol network for commsbot's Bluesky tests (npm's @atproto/dev-env).
//
//   node network.mjs [--appview]
//
// Without --appview: a PLC directory and a PDS (TestNetworkNoAppView). With it: also the
// AppView (and what it needs), which counts likes and serves search; it reads
// DB_POSTGRES_URL and REDIS_HOST from the environment. Prints one JSON line with the
// services' URLs once they answer, then runs until SIGTERM, SIGINT or the end of stdin.
// The "control" URL takes POST /process-all: it returns once every service has
// indexed what was written so far, so a test reads counts without polling.
import net from 'node:net'
import http from 'node:http'
import { TestNetwork, TestNetworkNoAppView } from '@atproto/dev-env'

// dev-env's servers listen on a port on every interface; tests stay on loopback.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1')
  } else if (args[0] && typeof args[0] === 'object' && args[0].path === undefined) {
    args[0] = { ...args[0], host: args[0].host ?? '127.0.0.1' }
  } else if (args.length === 0 || typeof args[0] === 'function') {
    args.unshift(0, '127.0.0.1')
  }
  return listen.apply(this, args)
}

const loopback = (url) => url && url.replace('//localhost:', '//127.0.0.1:')
const appview = process.argv.includes('--appview')
const started = Date.now()
const network = appview
  ? await TestNetwork.create({ dbPostgresSchema: "commsbot" })
  : await TestNetworkNoAppView.create({})

const control = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/process-all') {
    network.processAll().then(
      () => res.end('ok'),
      (err) => {
        res.statusCode = 500
        res.end(String(err))
      },
    )
  } else {
    res.statusCode = 404
    res.end()
  }
})
await new Promise((resolve) => control.listen(0, '127.0.0.1', resolve))

let closing = false
async function stop() {
  if (closing) return
  closing = true
  control.close()
  try {
    await network.close()
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.resume()

console.log(
  JSON.stringify({
    pds: loopback(network.pds.url),
    plc: loopback(network.plc.url),
    appview: appview ? loopback(network.bsky.url) : null,
    control: `http://127.0.0.1:${control.address().port}`,
    start_ms: Date.now() - started,
  }),
)
