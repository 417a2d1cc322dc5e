// Run in the guest as root (bundled by user-bus.e2e.test.ts): the units' states as
// host/user-bus.ts reads them over D-Bus, printed as JSON, for the test to compare with
// what `systemctl --user show` says of the same units. With REPEAT=N in the environment it
// asks N times in a row, each on a new connection, with a 2 s bound each: a burst of
// connections is where a manager's stall shows (see user-bus.ts).
import { UserBus } from '../../daemon/host/user-bus';

const [uid, props, ...units] = process.argv.slice(2);
const repeat = Number(process.env.REPEAT ?? '1');
const bus = new UserBus({ timeoutMs: repeat > 1 ? 2_000 : 10_000 });
const times: number[] = [];
let states = new Map();
for (let i = 0; i < repeat; i++) {
  const started = performance.now();
  states = await bus.show(Number(uid), units, props!.split(','));
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({
    ms: times[0],
    medianMs: times[Math.floor(times.length / 2)],
    maxMs: times.at(-1),
    states: Object.fromEntries([...states].map(([unit, s]) => [unit, s.properties])),
  }),
);
