import { SPEC, SPEC_HINT } from './helpers/spec.js';

/** One line per run, not per test, when the official files the oracle tests use are missing. */
export default function setup(): void {
  if (!SPEC) console.log(`\n${SPEC_HINT}\n`);
}
