import t from 'tap';
import { compareSchemas, describeDifferences, type SchemaObject } from '../../src/replication/schema-fingerprint.js';
import { planFromDifferences } from '../../src/replication/schema-sync.js';

const table = (name: string): SchemaObject => ({ kind: 'table', name, definition: '' });
const column = (name: string, definition: string): SchemaObject => ({ kind: 'column', name, definition });
const orders = [table('public.orders'), column('public.orders.id', 'bigint NOT NULL'), { kind: 'key', name: 'public.orders.orders_pkey', definition: 'PRIMARY KEY (id)' } as SchemaObject];

t.test('the same schema on both sides has no difference', async (t) => {
  t.same(compareSchemas(orders, [...orders].reverse()), []);
  t.same(compareSchemas([], []), []);
});

t.test('a table on blue only is one difference, not one per column or key', async (t) => {
  const differences = compareSchemas(orders, []);
  t.same(differences.map((d) => d.message), ['table public.orders: on blue, missing on green']);
});

t.test('a column on one side only names the side, the column and its type', async (t) => {
  const blue = [...orders, column('public.orders.note', 'text')];
  t.same(compareSchemas(blue, orders).map((d) => d.message), ['column public.orders.note text: on blue, missing on green']);
  t.same(compareSchemas(orders, blue).map((d) => d.message), ['column public.orders.note text: on green, missing on blue']);
});

t.test('a definition that differs names both', async (t) => {
  const green = [table('public.orders'), column('public.orders.id', 'integer NOT NULL'), orders[2]!];
  t.same(compareSchemas(orders, green).map((d) => d.message), ['column public.orders.id: bigint NOT NULL on blue, integer NOT NULL on green']);
});

t.test('objects of another kind with the same name are different objects', async (t) => {
  const differences = compareSchemas([{ kind: 'view', name: 'public.v', definition: '' }], [table('public.v')]);
  t.same(differences.map((d) => [d.kind, d.on]), [['table', 'green'], ['view', 'blue']]);
});

t.test('a reason names up to its limit and counts the rest', async (t) => {
  const blue = ['a', 'b', 'c'].map((n) => table(`public.${n}`));
  const differences = compareSchemas(blue, []);
  t.equal(describeDifferences(differences, 3), 'table public.a: on blue, missing on green; table public.b: on blue, missing on green; table public.c: on blue, missing on green');
  t.equal(describeDifferences(differences, 2), 'table public.a: on blue, missing on green; table public.b: on blue, missing on green; and 1 more');
});

t.test('the sync applies additions and leaves drops and type changes to a person', async (t) => {
  const blue = [...orders, column('public.orders.note', 'text'), column('public.orders.total', 'numeric'), { kind: 'sequence', name: 'public.s', definition: 'bigint' } as SchemaObject];
  const green = [...orders, column('public.orders.total', 'integer'), column('public.orders.old', 'text')];
  const plan = await planFromDifferences(compareSchemas(blue, green), 'demo', async () => ({
    columns: [{ name: 'note', type: 'text', notnull: false, default: null, identity: '' }],
    constraints: [],
    indexes: [],
  }));
  t.same(plan.statements, ['CREATE SEQUENCE IF NOT EXISTS public.s AS bigint;', 'ALTER TABLE public.orders ADD COLUMN IF NOT EXISTS note text;']);
  t.match(plan.manual, [
    { difference: /public\.orders\.total/, sql: /ALTER TABLE public\.orders ALTER COLUMN total TYPE numeric/ },
    { difference: /public\.orders\.old/, sql: /ALTER TABLE public\.orders DROP COLUMN old/ },
  ]);
});
