/**
 * What the handler bundles get for `@smithy/core/event-streams` (serverless.yml aliases it). The SDK's HTTP protocol
 * imports it dynamically, only for an operation with an event stream; neither DynamoDB nor the @connections API has
 * one, so it never runs on this service, and leaving it out takes its codec and checksums (about 19 KB) out of every
 * bundle. Were such an operation ever called, it would fail here, loudly.
 */
function notBundled(): never {
  throw new Error(
    'event streams are not bundled: no operation these handlers call has one (serverless.yml aliases them)',
  );
}

/** Stands in for the SDK's event-stream serde class; a function declaration, so that `new` reaches the error. */
export function EventStreamSerde(): never {
  return notBundled();
}

/** Stands in for the SDK's event-stream marshaller provider; never called. */
export const eventStreamSerdeProvider = (): never => notBundled();
