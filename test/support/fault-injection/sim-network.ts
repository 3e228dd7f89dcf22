import { DeliveryError } from '../../../src/domain/errors.ts';
import type { ServerFrame } from '../../../src/domain/frames.ts';
import type { DeliveryOutcome, Messenger } from '../../../src/domain/messenger.ts';
import type { FaultPolicy } from './fault-proxy.ts';
import { PageModel } from './page-model.ts';

/** A socket: in its handshake until $connect answers, then open until it closes. */
export interface Socket {
  readonly connectionId: string;
  state: 'handshake' | 'open' | 'closed';
  readonly page: PageModel;
  /** The owners it claimed a slot from at $connect. */
  readonly userId?: string;
  readonly sourceIp: string;
  helloDone: boolean;
  /** The step of its last $connect, join or leave: from the next step on, its room was fixed until another. */
  lastMoveStep: number;
  /** Why it closed, for failure reports. */
  closedHow?: 'refused' | 'disconnected' | 'disconnect failed' | 'disconnect lost' | 'abandoned';
}

/** One frame that reached a socket, and the invocation that sent it. */
export interface Delivery {
  readonly connectionId: string;
  readonly frame: ServerFrame;
  /** The invocation that sent it: a step and what ran in it. */
  readonly invocation: number;
  readonly what: string;
}

/**
 * The messenger as API Gateway behaves: a socket in its handshake or closed answers gone; an open one gets the
 * frame, unless the policy makes the call throw first (not delivered) or after (delivered, answer lost).
 */
export class SimNetwork implements Messenger {
  readonly sockets = new Map<string, Socket>();
  readonly deliveries: Delivery[] = [];
  /** The invocation running now, which every delivery is counted to. */
  invocation = 0;
  what = 'setup';
  readonly #policy: FaultPolicy;

  constructor(policy: FaultPolicy) {
    this.#policy = policy;
  }

  open(connectionId: string, owners: { userId?: string; sourceIp: string }, step: number): Socket {
    const socket: Socket = {
      connectionId,
      state: 'handshake',
      page: new PageModel(),
      ...owners,
      helloDone: false,
      lastMoveStep: step,
    };
    this.sockets.set(connectionId, socket);
    return socket;
  }

  async send(connectionId: string, frame: ServerFrame): Promise<DeliveryOutcome> {
    const socket = this.sockets.get(connectionId);
    if (socket === undefined || socket.state !== 'open') return 'gone';
    const call = { port: 'messenger', method: 'send' };
    const mode = this.#policy.decide(call);
    if (mode === 'before') throw new DeliveryError(connectionId, 'unavailable');
    this.deliveries.push({ connectionId, frame, invocation: this.invocation, what: this.what });
    socket.page.receive(frame);
    this.#policy.ran(call, 'delivered');
    if (mode === 'after') throw new DeliveryError(connectionId, 'timeout');
    return 'delivered';
  }

  openSockets(): Socket[] {
    return [...this.sockets.values()].filter((socket) => socket.state === 'open');
  }
}
