import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AgentActivities } from '../../src/shared/agent-contract';
import { createAgentActivities } from '../../vm-agent/src/activities';

describe('the agent activity contract', () => {
  it("is what the agent's activities implement", () => {
    // Checked by tsc (npm test runs it): the agent's activities must offer what the workflow calls, with the same types.
    expectTypeOf<ReturnType<typeof createAgentActivities>>().toExtend<AgentActivities>();
    expectTypeOf<AgentActivities['runEntry']>().toEqualTypeOf<ReturnType<typeof createAgentActivities>['runEntry']>();
    expect(typeof createAgentActivities).toBe('function');
  });
});
