import { describe, expect, it } from '@jest/globals';
import { devTokens } from '../../scripts/dev-tokens.ts';
import { buildAuthorizerDependencies } from '../../src/handlers/wiring/authorizer-composition-root.ts';

describe('the development tokens of npm start', () => {
  it('verify under the settings they give the local authorizer', async () => {
    const tokens = devTokens();
    const { verifier } = buildAuthorizerDependencies({ ...tokens.authorizerEnv });

    expect(await verifier.verify(await tokens.mint())).toEqual({
      userId: expect.stringMatching(/^dev-user-1-/),
      name: expect.stringMatching(/^Dev 1-/),
    });
  });
});
