/** Structured log lines; the composition root decides where they go. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Describes an error for a log line without dumping request payloads or credentials. */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  return { error: { name: error.name, message: error.message, stack: error.stack } };
}

/** One JSON object per line on stdout/stderr, which CloudWatch Logs keeps as is. */
export const jsonLogger: Logger = {
  info: (message, fields) => console.log(JSON.stringify({ level: 'INFO', message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: 'ERROR', message, ...fields })),
};

/** The dependencies' logger, or the plain JSON logger when the dependencies cannot be built. */
export function loggerOf(dependencies: () => { readonly logger: Logger }): Logger {
  try {
    return dependencies().logger;
  } catch {
    return jsonLogger;
  }
}
