import { describe, expect, it } from '@jest/globals';
import { Outbox, randomClientId } from '../../web/src/outbox.ts';

describe('Outbox', () => {
  it('gives each new message its own clientMsgId, even the same text sent again after its ack', () => {
    const outbox = new Outbox('p1');
    const first = outbox.idFor('ok');
    outbox.acknowledged(first);

    expect([first, outbox.idFor('ok'), outbox.idFor('fine')]).toEqual(['p1.1', 'p1.2', 'p1.3']);
  });

  it('gives the same text a new clientMsgId while the first copy still awaits its ack: two messages meant', () => {
    const outbox = new Outbox('p1');
    expect(outbox.idFor('ok')).not.toBe(outbox.idFor('ok'));
  });

  it('resends a message the server refused under its own clientMsgId, and gives back its text for the box', () => {
    const outbox = new Outbox('p1');
    const first = outbox.idFor('dinner?');

    const text = outbox.failed(first);

    expect({ text, resent: outbox.idFor('dinner?') }).toEqual({ text: 'dinner?', resent: first });
  });

  it('resends under its own clientMsgId a message whose connection closed before its ack came', () => {
    const outbox = new Outbox('p1');
    const first = outbox.idFor('dinner?');
    outbox.interrupted();

    expect(outbox.idFor('dinner?')).toBe(first);
  });

  it('sends the text of a message refused in another room as a new message once the page moved', () => {
    const outbox = new Outbox('p1');
    const first = outbox.idFor('hi');
    outbox.failed(first);

    outbox.changedRoom();

    expect(outbox.idFor('hi')).not.toBe(first);
  });

  it('reuses a clientMsgId once only: a resend that is acknowledged is done', () => {
    const outbox = new Outbox('p1');
    const first = outbox.idFor('dinner?');
    outbox.failed(first);
    outbox.acknowledged(outbox.idFor('dinner?'));

    expect(outbox.idFor('dinner?')).not.toBe(first);
  });

  it('forgets nothing for an answer about a clientMsgId it never gave', () => {
    const outbox = new Outbox('p1');
    expect(outbox.failed('someone-else')).toBeUndefined();
  });
});

describe('randomClientId', () => {
  it('is 24 random hex digits after "p", a valid clientId, new each time', () => {
    const ids = [randomClientId(), randomClientId()];
    expect({ shape: ids.every((id) => /^p[0-9a-f]{24}$/.test(id)), distinct: ids[0] !== ids[1] }).toEqual({
      shape: true,
      distinct: true,
    });
  });
});
