/**
 * Refuses to package (and so to deploy) a stage in the jwt auth mode whose authorizer settings its authorizer would
 * refuse at its first handshake: no key set, a weak HMAC secret, or a key set with neither audience, issuer nor
 * client id. The same check as the authorizer's own at cold start (loadAuthConfig), made before anything is deployed.
 */
import { ConfigError, loadAuthConfig } from '../src/handlers/wiring/config.ts';

interface FunctionDefinition {
  environment?: Record<string, unknown>;
}

/** The parts of osls's `serverless` object this plugin reads. */
interface Serverless {
  /** osls's error class, which it reports as a message without a stack. */
  readonly classes?: { readonly Error?: new (message: string) => Error };
  readonly service: {
    readonly provider: { environment?: Record<string, unknown> };
    getAllFunctions(): string[];
    getFunction(key: string): FunctionDefinition;
  };
}

/** The function that verifies tokens, as serverless.yml names it. */
const AUTHORIZER = 'authorizer';

/** A resolved environment as the function will see it: a null value (the stage has no such setting) is no variable. */
function environmentOf(variables: Record<string, unknown>): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, value === null ? undefined : String(value)]),
  );
}

export default class AuthSettingsPlugin {
  readonly hooks: Record<string, () => void>;
  readonly #serverless: Serverless;

  constructor(serverless: Serverless) {
    this.#serverless = serverless;
    this.hooks = { 'before:package:initialize': () => this.check() };
  }

  /** Throws when the stage authenticates handshakes with settings its authorizer would refuse. */
  check(): void {
    const { service } = this.#serverless;
    if (service.provider.environment?.['AUTH_MODE'] !== 'jwt') return;
    if (!service.getAllFunctions().includes(AUTHORIZER)) return;
    const environment = environmentOf({
      ...service.provider.environment,
      ...service.getFunction(AUTHORIZER).environment,
    });
    try {
      loadAuthConfig(environment);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const ServerlessError = this.#serverless.classes?.Error ?? Error;
      throw new ServerlessError(
        `authMode jwt: the authorizer's settings are refused (${error.message.replace(/^invalid configuration: /, '')}). ` +
          'Set the AUTH_* variables in the environment that packages or deploys (README, Deploy).',
      );
    }
  }
}
