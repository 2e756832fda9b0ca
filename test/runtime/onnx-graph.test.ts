import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphIndex, UniqueNames, decodeModel, encodeModel, node, onnx, tensorProto } from '../../src/runtime/onnx/index.js';

/** A main graph with an If whose branch reads the main graph's weight and has its own initializer. */
function model() {
  const branch = onnx.GraphProto.create({
    name: 'then',
    node: [node('MatMul', ['x', 'w'], ['y_then'], 'inner'), node('Add', ['y_then', 'bias'], ['z'], 'add')],
    initializer: [tensorProto('bias', [2], Float32Array.of(1, 2))],
    output: [{ name: 'z' }],
  });
  const ifNode = onnx.NodeProto.create({
    opType: 'If',
    name: 'branch',
    input: ['cond'],
    output: ['out'],
    attribute: [{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch }, { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: { name: 'else', output: [{ name: 'x' }] } }],
  });
  return onnx.ModelProto.create({
    graph: {
      name: 'main',
      node: [node('Constant', [], ['c'], 'constant'), node('Transpose', ['w'], ['w_t'], 't', { perm: [1, 0] }), node('MatMul', ['x', 'w_t'], ['y'], 'outer'), ifNode],
      initializer: [tensorProto('w', [2, 2], Float32Array.of(1, 2, 3, 4))],
      output: [{ name: 'y' }, { name: 'out' }],
    },
  });
}

test('GraphIndex: initializers with their graph, producers and reader counts over every graph, constants', () => {
  const m = decodeModel(encodeModel(model()));
  const index = new GraphIndex(m.graph!);
  assert.deepEqual(index.graphs.map((g) => g.name), ['main', 'then', 'else']);
  assert.equal(index.initializers.get('w')?.graph, m.graph);
  assert.equal(index.initializers.get('bias')?.graph.name, 'then');
  assert.equal(index.producers.get('w_t')?.opType, 'Transpose');
  assert.equal(index.producers.get('z')?.name, 'add');
  // x: two MatMuls and the else branch's output; w: the Transpose and the inner MatMul.
  assert.equal(index.consumers.get('x'), 3);
  assert.equal(index.consumers.get('w'), 2);
  assert.equal(index.consumers.get('y'), 1);
  assert.equal(index.consumers.get('c'), undefined);
  assert.ok(index.isConstant('w') && index.isConstant('bias') && index.isConstant('c'));
  assert.ok(!index.isConstant('x') && !index.isConstant('w_t'));
  assert.deepEqual([...index.definedNames()].sort(), ['bias', 'c', 'out', 'w', 'w_t', 'y', 'y_then', 'z']);
});

test('UniqueNames: the base when free, else the first free numbered name, never the same twice', () => {
  const names = new UniqueNames(['w', 'w_1', 'y']);
  assert.equal(names.next('w'), 'w_2');
  assert.equal(names.next('w'), 'w_3');
  assert.equal(names.next('v'), 'v');
  assert.equal(names.next('v'), 'v_1');
});
