// Every command, one file each.
import type { Command } from 'commander';
import type { SetExit } from './common';
import { registerArchives } from './archives';
import { registerCheck } from './check';
import { registerDaemon } from './daemon';
import { registerDoctor } from './doctor';
import { registerGenerations } from './generations';
import { registerInstallUnits } from './install-units';
import { registerLogs } from './logs';
import { registerLoadImage } from './load-image';
import { registerPlan } from './plan';
import { registerReconcile } from './reconcile';
import { registerRedeploy } from './redeploy';
import { registerRender } from './render';
import { registerRestore } from './restore';
import { registerStatus } from './status';
import { registerCompletion } from './completion';
import { registerMan } from './man';
import { registerFleet } from './fleet-status';

export function registerCommands(program: Command, setExit: SetExit): void {
  registerReconcile(program, setExit);
  registerPlan(program, setExit);
  registerStatus(program, setExit);
  registerLogs(program, setExit);
  registerCheck(program, setExit);
  registerRender(program, setExit);
  registerGenerations(program, setExit);
  registerRedeploy(program, setExit);
  registerArchives(program, setExit);
  registerRestore(program, setExit);
  registerLoadImage(program, setExit);
  registerDaemon(program, setExit);
  registerInstallUnits(program, setExit);
  registerDoctor(program, setExit);
  registerFleet(program, setExit);
  // Last: they describe every command registered above.
  registerCompletion(program, setExit);
  registerMan(program, setExit);
}
