// `moor daemon`: the long-lived agent (docs/design.md §9). It wires the triggers (schedule, watch,
// SIGHUP, control socket, webhook) into the pass loop, tells systemd how it is doing
// (READY, STATUS, WATCHDOG, RELOADING, STOPPING), and stops cleanly on SIGTERM/SIGINT:
// the running pass finishes the workloads in hand, records its status and releases the
// lock, all within timeouts.stop.
import { resolve } from 'node:path';
import type { MoorConfig } from '../core/config/schema';
import { ConfigError } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import { ExecaRunner } from '../host/exec';
import { loadConfig } from '../host/config-load';
import { systemClock } from '../host/clock';
import { createLogger, type LogSink, type Logger } from '../host/log';
import { generationRows, type DaemonInfo } from '../state/reports';
import { isRoot, liveStatusReport } from '../state/live-status';
import { realHostOps, type HostOps } from '../pass/host-ops';
import { openStateStore, type StateStore } from '../state/store';
import { startControlServer, type ControlLimits, type ControlServer } from './control-server';
import { startMetricsListener, type MetricsListener } from './metrics-listener';
import { metricsText } from '../pass/pass-metrics';
import { createPassExecutor, type ExecutorDeps } from './pass-executor';
import { listenFdsFromEnv, unsetListenEnv } from './listen-fds';
import { PassLoop, type PassExecutor } from './pass-loop';
import { createNotifier, startWatchdog, type Notifier } from './notify';
import type { PassOutcome, TriggerReason } from './protocol';
import { checkCron, Schedule, type CreateCronTask } from './schedule';
import { readWebhookSecret } from './webhook';
import { NotifySender, notifyPayloadOf } from './notify-send';
import { homesOf, StatusPublisher } from './status-publish';
import { notifyAccount } from '../host/notify-command';
import { checkIdentityFile } from '../host/secrets';
import { startWatches, watchTargets, type WatchKind, type Watches } from './watch';

export interface AgentOptions {
  configFile: string;
  /** The config file must exist (it was named with --config). */
  configRequired: boolean;
  /** Install SIGHUP/SIGTERM/SIGINT handlers on the process (off in tests). */
  handleSignals?: boolean;
  /** Run a pass as soon as the daemon is ready (a boot converges at once). */
  startupPass?: boolean;
  // Seams for tests; the defaults are the real ones.
  env?: NodeJS.ProcessEnv;
  logSink?: LogSink;
  notifier?: Notifier;
  execute?: PassExecutor;
  executorDeps?: Partial<ExecutorDeps>;
  /** Opens the state store, for the read models and the passes. */
  openStore?: (config: MoorConfig, access: { readOnly: boolean }) => Promise<StateStore>;
  createCronTask?: CreateCronTask;
  random?: () => number;
  debounceMs?: number;
  controlLimits?: Partial<ControlLimits>;
  /** The first wait of a notify POST retry (tests shorten it). */
  notifyRetryBaseMs?: number;
}

export class Agent {
  private config: MoorConfig;
  private readonly log: Logger;
  private readonly loop: PassLoop;
  /** Tells the [notify] receivers of each pass (not to be confused with `notifier`, sd_notify). */
  readonly announcer: NotifySender;
  /** Pushes each pass's status to the host's status branch (`fleet.publish`). */
  readonly publisher: StatusPublisher;
  private readonly startedAt = new Date();
  private control!: ControlServer;
  private metricsListener: MetricsListener | undefined;
  private schedule!: Schedule;
  private watches: Watches | undefined;
  private stopWatchdog: () => void = () => undefined;
  private notifier!: Notifier;
  private lastOutcome: DaemonInfo['lastOutcome'];
  private lastStatus = 'ready: first pass pending';
  private reloadChain: Promise<boolean> = Promise.resolve(true);
  /** A reload asked for and not started yet: every SIGHUP until it starts joins it. */
  private reloadQueued: Promise<boolean> | undefined;
  /** When the stop signal that started the stop came (ms since the epoch). */
  private stopSignalAt: number | undefined;
  private stopping: Promise<ExitCode> | undefined;
  private resolveDone!: (code: ExitCode) => void;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  private readonly readStore: () => Promise<StateStore>;
  /** The host as a pass sees it; `moor status` asks it for the units' states now. */
  private readonly hostFor: (config: MoorConfig) => HostOps;
  /** Set once serve() has started everything; a signal before that waits for it. */
  private ready = false;
  private pendingSignal: NodeJS.Signals | undefined;
  /** Resolves with the exit code once the daemon has stopped. */
  readonly done: Promise<ExitCode>;

  private constructor(
    private readonly opts: AgentOptions,
    config: MoorConfig,
  ) {
    this.config = config;
    this.log = createLogger(config.logLevel, opts.logSink);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const openStore = opts.openStore ?? ((c: MoorConfig, access: { readOnly: boolean }) => openStateStore(c.stateDir, { clock: systemClock, ...access }));
    this.readStore = () => openStore(this.config, { readOnly: true });
    this.hostFor = opts.executorDeps?.host ?? ((c: MoorConfig) => realHostOps(c, systemClock));
    const execute =
      opts.execute ?? createPassExecutor({ config: () => this.config, log: this.log, openStore: (c) => openStore(c, { readOnly: false }), ...opts.executorDeps });
    // Announced after the pass has released its lock, in the background (notify-send.ts).
    this.announcer = new NotifySender({
      config: () => this.config.notify,
      stateDir: () => this.config.stateDir,
      log: this.log,
      ...(opts.notifyRetryBaseMs !== undefined ? { retryBaseMs: opts.notifyRetryBaseMs } : {}),
    });
    // Published after the pass has released its lock too (status-publish.ts).
    this.publisher = new StatusPublisher({ config: () => this.config, log: this.log, homes: (users) => homesOf(this.hostFor(this.config), users) });
    this.loop = new PassLoop(execute, {
      log: this.log,
      onOutcome: (o) => {
        this.recordOutcome(o);
        const payload = notifyPayloadOf(o);
        if (payload) this.announcer.announce(payload);
        if (payload) this.publisher.publish(payload);
      },
    });
  }

  /** Loads and checks the config (a bad one throws ConfigError: exit 2), then serves. */
  static async start(options: AgentOptions): Promise<Agent> {
    // Absolute, so the config folder's watch and every reload mean the same file.
    const opts = { ...options, configFile: resolve(options.configFile) };
    const config = await loadDaemonConfig(opts);
    const daemon = new Agent(opts, config);
    try {
      await daemon.serve();
    } catch (err) {
      // Whatever started must not keep a daemon that failed to start alive.
      await daemon.abandon();
      throw err;
    }
    return daemon;
  }

  private async serve(): Promise<void> {
    const env = this.opts.env ?? process.env;
    const config = this.config;
    // From the first moment: a SIGTERM while the daemon starts (the control socket may
    // already answer) must stop it cleanly, not end it by Node's default handler.
    if (this.opts.handleSignals ?? true) {
      this.onSignal('SIGHUP', () => (this.ready ? void this.reload('SIGHUP') : (this.pendingSignal ??= 'SIGHUP')));
      this.onSignal('SIGTERM', () => this.onStopSignal('SIGTERM'));
      this.onSignal('SIGINT', () => this.onStopSignal('SIGINT'));
    }
    this.notifier = this.opts.notifier ?? (await createNotifier({ log: this.log, env, runner: new ExecaRunner() }));

    const activation = listenFdsFromEnv(env, process.pid);
    if (activation) {
      unsetListenEnv(env);
      if (activation.count > 1) this.log.warn({ count: activation.count }, 'several sockets were passed: only the first serves the control API');
    }
    this.control = await startControlServer({
      log: this.log,
      socketPath: config.control.socket,
      mode: config.control.mode,
      ...(activation ? { listenFd: activation.fd } : {}),
      ...(this.opts.controlLimits ? { limits: this.opts.controlLimits } : {}),
      api: {
        status: async () => ({ ...(await liveStatusReport(await this.readStore(), this.hostFor(this.config), { root: isRoot() })), daemon: this.info() }),
        generations: async () => generationRows(await this.readStore()),
        metrics: () => this.metrics(),
        reconcile: (onItem) => this.loop.trigger('control', onItem),
        webhookSecretFile: () => this.config.control.webhookSecretFile,
        branch: () => this.config.source.branch,
        triggerWebhook: () => void this.loop.trigger('webhook'),
        stopping: () => this.stopping !== undefined,
      },
    });

    if (config.metrics.listen) {
      this.metricsListener = await startMetricsListener({ ...config.metrics.listen, metrics: () => this.metrics(), log: this.log });
    }

    this.schedule = new Schedule({
      cron: config.schedule.cron,
      jitterMs: config.schedule.jitterMs,
      fire: () => void this.loop.trigger('schedule'),
      log: this.log,
      ...(this.opts.createCronTask ? { createTask: this.opts.createCronTask } : {}),
      ...(this.opts.random ? { random: this.opts.random } : {}),
    });
    this.schedule.start();
    this.watches = await this.watch(config);

    this.ready = true;
    this.notifier.ready(this.lastStatus);
    this.stopWatchdog = startWatchdog(this.notifier, () => this.healthy(), this.log);
    this.log.info(
      { pid: process.pid, control: this.control.where, cron: config.schedule.cron, watching: this.watches.roots.join(',') || undefined, notify: this.notifier.backend },
      'moor daemon ready',
    );
    // A signal that came while starting is acted on now that everything it needs is up.
    const pending = this.pendingSignal;
    if (pending === 'SIGHUP') void this.reload('SIGHUP');
    else if (pending) {
      this.stopSignalAt = Date.now();
      return void this.stop(pending);
    }
    if (this.opts.startupPass ?? true) this.trigger('startup');
  }

  /** GET /metrics on the control socket and on metrics.listen: from state, so a restarted daemon reports the last pass. */
  private async metrics(): Promise<string> {
    return metricsText(await this.readStore(), new Date());
  }

  private async abandon(): Promise<void> {
    this.schedule?.stop();
    await this.watches?.close().catch(() => undefined);
    await this.control?.close().catch(() => undefined);
    await this.metricsListener?.close().catch(() => undefined);
    for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
  }

  /** A trigger from outside the loop's own sources (tests, the CLI action). */
  trigger(reason: TriggerReason): Promise<PassOutcome> {
    return this.loop.trigger(reason).outcome;
  }

  /** Resolves once no pass runs or waits. */
  idle(): Promise<void> {
    return this.loop.idle();
  }

  info(): DaemonInfo {
    const next = this.schedule?.nextRun();
    return {
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      ...this.loop.snapshot(),
      ...(next ? { nextScheduled: next.toISOString() } : {}),
      ...(this.lastOutcome ? { lastOutcome: this.lastOutcome } : {}),
      notify: this.notifier?.backend ?? 'none',
    };
  }

  /**
   * Healthy unless a pass has held the lock without finishing a workload for longer than
   * any workload can legitimately take (every step of one is bounded). A pass stuck that
   * long will never end; withholding WATCHDOG=1 lets systemd restart the daemon, and the
   * next start marks that pass's generation aborted and converges.
   */
  healthy(): boolean {
    const stalled = this.loop.stalledMs();
    return stalled === undefined || stalled <= stallLimitMs(this.config);
  }

  /** The config in force. */
  get currentConfig(): MoorConfig {
    return this.config;
  }

  /**
   * Re-reads the config. A bad one is logged at error priority and the running one kept;
   * either way systemd hears RELOADING=1 then READY=1. A good one is followed by a pass.
   */
  reload(cause: string): Promise<boolean> {
    // A storm of SIGHUPs is one reload running and at most one queued: the queued one
    // reads the config as it is when it starts, which is all any of them could do.
    if (this.reloadQueued) return this.reloadQueued;
    const queued = this.reloadChain.then(() => {
      this.reloadQueued = undefined;
      return this.reloadNow(cause);
    });
    this.reloadQueued = queued;
    this.reloadChain = queued;
    return queued;
  }

  private async reloadNow(cause: string): Promise<boolean> {
    if (this.stopping) return false;
    this.notifier.reloading();
    let ok = false;
    try {
      const next = await loadDaemonConfig(this.opts);
      await this.apply(next);
      ok = true;
      this.log.info({ cause, files: next.files.join(',') || undefined }, 'config reloaded');
    } catch (err) {
      this.log.error({ cause, err: (err as Error).message }, 'config reload failed: keeping the running config');
    }
    this.notifier.ready(this.lastStatus);
    if (ok) this.loop.trigger('reload');
    return ok;
  }

  private async apply(next: MoorConfig): Promise<void> {
    const prev = this.config;
    this.config = next;
    this.log.level = next.logLevel;
    this.schedule.update(next.schedule.cron, next.schedule.jitterMs);
    // Rebuilt every time: a reload is how a folder created since the start gets watched.
    await this.watches?.close();
    this.watches = await this.watch(next);
    if (next.control.socket !== prev.control.socket) {
      this.log.warn({ socket: next.control.socket, serving: this.control.where }, 'control.socket changed: it takes effect when the daemon restarts');
    }
    if (JSON.stringify(next.metrics.listen) !== JSON.stringify(prev.metrics.listen)) {
      this.log.warn({ listen: this.metricsListener?.where ?? 'off' }, 'metrics.listen changed: it takes effect when the daemon restarts');
    }
    if (next.control.mode !== prev.control.mode) {
      if (this.control.activated) this.log.warn('control.mode changed: the socket comes from moor.socket, set SocketMode= there');
      else await this.control.setMode(next.control.mode);
    }
  }

  private watch(config: MoorConfig): Promise<Watches> {
    return startWatches({
      targets: watchTargets(config, this.opts.configFile),
      log: this.log,
      onChange: (kinds) => void this.watched(kinds),
      ...(this.opts.debounceMs !== undefined ? { debounceMs: this.opts.debounceMs } : {}),
    });
  }

  private async watched(kinds: Set<WatchKind>): Promise<void> {
    if (this.stopping) return;
    this.log.info({ changed: [...kinds].join(',') }, 'change seen');
    // A good config is followed by a pass; a bad one still lets the other changes through.
    if (kinds.has('config') && (await this.reload('config file changed'))) return;
    if (kinds.size > (kinds.has('config') ? 1 : 0)) this.loop.trigger('watch');
  }

  private recordOutcome(outcome: PassOutcome): void {
    if (outcome.kind === 'cancelled') return;
    const summary = outcome.kind === 'result' ? outcome.result.summary : outcome.summary;
    const exitCode = outcome.kind === 'result' ? outcome.result.exitCode : outcome.exitCode;
    this.lastOutcome = { at: new Date().toISOString(), summary, exitCode };
    this.lastStatus = summary;
    this.notifier.status(summary);
  }

  /**
   * A stopped daemon is about to exit; a late signal of the same storm must not end it by
   * the signal's default action (killed by SIGHUP or SIGTERM, not the stop's own code).
   * The handlers give way to one that ignores them, added first: with no listener at all,
   * even for an instant, Node gives the signal its default action back.
   */
  private releaseSignals(): void {
    for (const [signal, handler] of this.signalHandlers) {
      if (!process.listeners(signal).includes(ignoreSignal)) process.on(signal, ignoreSignal);
      process.off(signal, handler);
    }
    this.signalHandlers.length = 0;
  }

  private onSignal(signal: NodeJS.Signals, handler: () => void): void {
    process.on(signal, handler);
    this.signalHandlers.push([signal, handler]);
  }

  private onStopSignal(signal: NodeJS.Signals): void {
    if (!this.ready) {
      this.pendingSignal = signal;
      return;
    }
    if (this.stopping) {
      // Signals of one burst (a script or supervisor sending several, systemd's and
      // someone's at once) are one request; a later one insists: exit now.
      if (this.stopSignalAt !== undefined && Date.now() - this.stopSignalAt < STOP_SIGNAL_BURST_MS) return;
      this.log.warn({ signal }, 'second stop signal: exiting now, the next start converges');
      process.exit(ExitCode.Failed);
    }
    this.stopSignalAt = Date.now();
    void this.stop(signal);
  }

  /** Stops: no new passes, the running one ends after its workloads in hand, then exit. */
  stop(why = 'stop requested'): Promise<ExitCode> {
    this.stopping ??= this.stopNow(why);
    return this.stopping;
  }

  private async stopNow(why: string): Promise<ExitCode> {
    this.notifier.stopping();
    const snapshot = this.loop.snapshot();
    this.log.info({ why }, snapshot.running ? 'stopping: finishing the workloads in hand' : 'stopping');
    // The running pass sees shouldStop() at once; the queued one is cancelled.
    const passEnded = this.loop.stop();
    // A reload under way would start a schedule and watches again after they are stopped
    // here; queued ones see the stop and do nothing. Loading a config is quick.
    await this.reloadChain;
    this.schedule.stop();
    await this.watches?.close();
    const stopMs = this.config.timeouts.stopMs;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      passEnded.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), stopMs))),
    ]);
    clearTimeout(timer);
    // The last pass's announcement gets its chance to go out, bounded by notify.timeout.
    const notifyMs = this.config.notify?.timeoutMs ?? 0;
    if (notifyMs > 0) await Promise.race([this.announcer.idle(), new Promise<void>((r) => setTimeout(r, notifyMs).unref())]);
    // And the last status its push, bounded by a fetch and a push.
    if (this.config.fleet.publish) await Promise.race([this.publisher.idle(), new Promise<void>((r) => setTimeout(r, 2 * this.config.timeouts.fetchMs).unref())]);
    // The control API stays up until now so that waiting clients get the pass's last line.
    await this.control.close().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'closing the control API failed'));
    await this.metricsListener?.close();
    this.stopWatchdog();
    this.releaseSignals();
    const code = finished ? ExitCode.Ok : ExitCode.Failed;
    if (finished) this.log.info('stopped');
    else this.log.error({ timeout_ms: stopMs }, 'the running pass did not finish its workload within timeouts.stop: exiting anyway; the next start marks that generation aborted and converges');
    this.resolveDone(code);
    return code;
  }
}

/** What a stopped daemon does with a late signal: nothing (see releaseSignals). */
function ignoreSignal(): void {}

/** Stop signals this close to the first one are the same request, not a second one. */
export const STOP_SIGNAL_BURST_MS = 1_000;

/**
 * The longest a pass may go without finishing a workload: a fetch, a health gate, a stop,
 * a home archive, and thirty commands (a removal's searches of every leftover root).
 */
export function stallLimitMs(config: MoorConfig): number {
  const t = config.timeouts;
  return t.fetchMs + t.healthMs + t.stopMs + t.archiveMs + 30 * t.commandMs;
}

async function loadDaemonConfig(opts: AgentOptions): Promise<MoorConfig> {
  const config = await loadConfig({ file: opts.configFile, required: opts.configRequired });
  checkCron(config);
  await checkWebhookSecret(config);
  await checkIdentity(config);
  await checkNotify(config);
  return config;
}

/** A [notify] user that is missing or root, or a secret file others can read, fails the start or the reload by name. */
async function checkNotify(config: MoorConfig): Promise<void> {
  const notify = config.notify;
  if (!notify) return;
  const file = config.files.at(-1) ?? 'config';
  if (notify.user !== undefined) {
    try {
      await notifyAccount(notify.user);
    } catch (err) {
      throw new ConfigError(file, `key "notify.user": ${(err as Error).message}`, undefined, 'notify.user');
    }
  }
  if (notify.secretFile !== undefined) {
    try {
      await readWebhookSecret(notify.secretFile);
    } catch (err) {
      throw new ConfigError(file, `key "notify.secret_file": ${(err as Error).message}`, undefined, 'notify.secret_file');
    }
  }
}

/** An age identity file that cannot be used (others may read it, a symlink, no key in it) fails the start or the reload by name. */
async function checkIdentity(config: MoorConfig): Promise<void> {
  const file = config.secrets.identityFile;
  if (file === undefined) return;
  try {
    await checkIdentityFile(file);
  } catch (err) {
    const key = 'secrets.identity_file';
    throw new ConfigError(config.files.at(-1) ?? 'config', `key "${key}": ${(err as Error).message}`, undefined, key);
  }
}

/** A webhook secret file others can read, or one that is a symlink, fails the start or the reload by name. */
async function checkWebhookSecret(config: MoorConfig): Promise<void> {
  const file = config.control.webhookSecretFile;
  if (file === undefined) return;
  try {
    await readWebhookSecret(file);
  } catch (err) {
    const key = 'control.webhook_secret_file';
    throw new ConfigError(config.files.at(-1) ?? 'config', `key "${key}": ${(err as Error).message}`, undefined, key);
  }
}
