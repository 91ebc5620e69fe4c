import * as D from '../../src/defaults.js';
import type { Lab } from '../../src/local/lab.js';
import { withClient } from '../../src/postgres/connect.js';

/**
 * A schema of many objects on blue's demo database, in a schema of its own (`gen`):
 * per table a serial key (table, sequence, primary key), an index, a view and a SQL
 * function, so about 6 objects of pg_dump's per table. Made in one statement.
 */
export async function createGeneratedSchema(lab: Lab, tables: number): Promise<number> {
  return withClient(lab.target('blue', 'admin', D.LAB_DATABASE), async (c) => {
    await c.query(`
      CREATE SCHEMA gen;
      DO $$
      BEGIN
        FOR i IN 1..${Math.floor(tables)} LOOP
          EXECUTE format('CREATE TABLE gen.t%s (id serial PRIMARY KEY, name text NOT NULL, amount numeric(12,2), created timestamptz DEFAULT now())', i);
          EXECUTE format('CREATE INDEX t%s_name ON gen.t%s (name)', i, i);
          EXECUTE format('CREATE VIEW gen.v%s AS SELECT id, upper(name) AS name FROM gen.t%s WHERE amount > 0', i, i);
          EXECUTE format('CREATE FUNCTION gen.f%s(x integer) RETURNS bigint LANGUAGE sql STABLE AS ''SELECT count(*) FROM gen.t%s WHERE id > x''', i, i);
        END LOOP;
      END $$`);
    const { rows } = await c.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'gen'::regnamespace)
            + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'gen'::regnamespace) AS n`,
    );
    return Number(rows[0]!.n);
  });
}
