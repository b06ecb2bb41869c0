/**
 * What the built-in SdI simulator does with a file (engine.ts explains each); here alone so that
 * the configuration schema can name them without loading the simulator.
 */
export const SCENARIOS = [
  'deliver',
  'mc-rc',
  'mc-at',
  'accept',
  'refuse',
  'expire',
  'reject',
  'unavailable',
  'slow',
] as const;
export type Scenario = (typeof SCENARIOS)[number];
