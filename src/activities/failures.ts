// Moved to src/shared/failures.ts (the agent uses it too); this re-export goes once vm-agent/src/activities.ts imports it from there.
export { toFailure, withFailureMapping } from '../shared/failures';
