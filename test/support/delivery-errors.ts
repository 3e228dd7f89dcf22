import { DeliveryError } from '../../src/domain/errors.ts';

/** The DeliveryError that the send throws; fails the test on any other outcome. */
export async function deliveryErrorOf(send: Promise<unknown>): Promise<DeliveryError> {
  try {
    await send;
  } catch (error) {
    if (error instanceof DeliveryError) return error;
    throw error;
  }
  throw new Error('expected the send to throw a DeliveryError');
}
