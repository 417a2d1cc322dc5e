// Run in the guest as root (bundled by user-bus.e2e.test.ts): the units' states as
// host/user-bus.ts reads them over D-Bus, printed as JSON, for the test to compare with
// what `systemctl --user show` says of the same units.
import { UserBus } from '../../daemon/host/user-bus';

const [uid, props, ...units] = process.argv.slice(2);
const started = performance.now();
const states = await new UserBus({ timeoutMs: 10_000 }).show(Number(uid), units, props!.split(','));
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ ms, states: Object.fromEntries([...states].map(([unit, s]) => [unit, s.properties])) }));
