import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import Value from 'typebox/value';

/**
 * Request validation with TypeBox's own compiler. Query strings, params and headers
 * arrive as text and are converted to the schema's types ("limit=10" -> 10); bodies are
 * JSON and are checked as sent, so `{"reason": 42}` is refused rather than turned into
 * "42". Defaults are filled in for both; unknown fields are refused, never stripped.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const checker = Compile(schema);
  return (input: unknown) => {
    // A POST without a body is as good as an empty one (Fastify passes null).
    if (httpPart === 'body' && (input === undefined || input === null)) return { value: undefined };
    const converted = httpPart === 'body' ? input : Value.Convert(schema, input);
    const value = Value.Default(schema, converted);
    if (checker.Check(value)) return { value };
    return { error: [...checker.Errors(value)] as unknown as Error };
  };
};
