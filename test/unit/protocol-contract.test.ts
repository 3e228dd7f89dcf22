import { describe, expect, it } from '@jest/globals';
import {
  checkClientFrame,
  checkServerFrame,
  ProtocolContract,
  takeContractViolations,
} from '../support/protocol-contract.ts';

const contract = ProtocolContract.fromFile();
const welcome = { type: 'welcome', connectionId: 'c-1', room: 'lobby', name: 'Ann', replay: 0, rev: 1, members: 1 };
const at = '2026-01-01T12:00:00.000Z';

describe('the traffic check against asyncapi.yaml', () => {
  it('accepts a server frame that the document describes', () => {
    expect(contract.serverFrameProblems(JSON.stringify(welcome))).toEqual([]);
  });

  it.each([
    ['a type it does not list', { type: 'teleport' }, 'does not list'],
    ['a missing field', { ...welcome, members: undefined }, "must have required property 'members'"],
    ['a field it does not list', { ...welcome, stack: 'at x.ts:1' }, 'must NOT have additional properties (stack)'],
    ['a field of the wrong type', { ...welcome, replay: '3' }, '/replay must be integer'],
    ['a negative count', { ...welcome, members: -1 }, '/members must be >= 0'],
    ['an undocumented error code', { type: 'error', code: 'oops', message: 'x' }, '/code must be equal to one of'],
    [
      'a timestamp that is not ISO 8601',
      { type: 'echo', id: 'e', from: 'c-1', text: 'x', sentAt: 'yesterday' },
      '/sentAt must match format "date-time"',
    ],
    [
      'a malformed change inside a batch',
      {
        type: 'presence_batch',
        room: 'lobby',
        members: 1,
        joined: 1,
        left: 0,
        renamed: 0,
        complete: true,
        changes: [{ event: 'arrive', connectionId: 'c-2', name: 'Bob', rev: 1, at }],
      },
      '/changes/0/event must be equal to one of',
    ],
  ])('refuses a server frame with %s', (_, frame, problem) => {
    expect(contract.serverFrameProblems(JSON.stringify(frame)).join('\n')).toContain(problem);
  });

  it('refuses a server frame that is not JSON', () => {
    expect(contract.serverFrameProblems('Internal Server Error')).toEqual([
      'server frame is not JSON: Internal Server Error',
    ]);
  });

  it.each([
    ['plain text', 'dinner?'],
    ['a message', '{"action":"sendmessage","text":"hi","clientMsgId":"c-1"}'],
    ["the AWS sample client's message", '{"action":"sendmessage","data":"hi"}'],
    ['JSON text without an action', '{"text":"hi"}'],
    ['a hello with afterSeq', '{"action":"hello","afterSeq":41}'],
    ['a who with a cursor', '{"action":"who","cursor":"abc"}'],
  ])('accepts %s from a client', (_, frame) => {
    expect(contract.clientFrameProblems(frame)).toEqual([]);
  });

  it.each([
    ['an unknown action', '{"action":"teleport"}', 'does not list'],
    ['invalid JSON', '{"action":', 'not JSON'],
    ['a message without text', '{"action":"sendmessage"}', 'must match a schema in anyOf'],
    ['a non-string text', '{"action":"sendmessage","data":42}', '/data must be string'],
    ['a negative afterSeq', '{"action":"hello","afterSeq":-1}', '/afterSeq must be >= 0'],
    ['a join without a room', '{"action":"join"}', "must have required property 'room'"],
    ['a room name with a space', '{"action":"join","room":"the kitchen"}', '/room must match pattern'],
    ['a field it does not list', '{"action":"ping","stamp":1}', 'must NOT have additional properties (stamp)'],
    [
      'a message with a field it does not list',
      '{"action":"sendmessage","text":"hi","priority":"high"}',
      'must NOT have additional properties (priority)',
    ],
  ])('refuses a client frame with %s', (_, frame, problem) => {
    expect(contract.clientFrameProblems(frame).join('\n')).toContain(problem);
  });

  it('keeps each violation until the tier takes them, naming where the frame was seen', () => {
    checkServerFrame(JSON.stringify(welcome), 'a client received');
    checkServerFrame(JSON.stringify({ ...welcome, rev: 'one' }), 'a client received');
    checkClientFrame('{"action":"teleport"}', 'a client sent');

    const violations = takeContractViolations();

    expect(violations).toHaveLength(2);
    expect(violations[0]).toMatch(/^a client received: server\.welcome \/rev must be integer/);
    expect(violations[1]).toMatch(/^a client sent: client frame with an action asyncapi\.yaml does not list/);
    expect(takeContractViolations()).toEqual([]);
  });
});
