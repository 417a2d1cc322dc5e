// The real clock, behind the Clock port so tests can drive time themselves.
import type { Clock } from '../core/ports';

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
