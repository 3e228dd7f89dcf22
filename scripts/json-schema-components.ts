/**
 * Named zod schemas as JSON Schemas that refer to each other through `#/components/schemas/<name>`: the shared part of
 * the protocol's AsyncAPI document and the publish API's OpenAPI document.
 */
import * as z from 'zod/mini';

type Json = Record<string, unknown>;

export interface ComponentOptions {
  /** What the schemas describe: what is read (`input`) or what is written (`output`). */
  readonly io: 'input' | 'output';
  /** AsyncAPI's default schema format is draft 7; OpenAPI 3.1's is 2020-12. */
  readonly target: 'draft-07' | 'draft-2020-12';
  /** Names each schema in its own `title` too, the name code generators give its type. */
  readonly titled?: boolean;
}

export function componentSchemas(
  named: Record<string, z.ZodMiniType>,
  options: ComponentOptions,
): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: options.target,
    io: options.io,
    uri: (id) => `#/components/schemas/${id}`,
    override: ({ jsonSchema }) => {
      // A date-time format says it all; zod's own pattern for it would only make the document unreadable.
      if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
    },
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      // A schema's name is its key in the components.
      const rest: Json = options.titled === true ? { title: id, ...schema } : { ...schema };
      delete rest['$schema'];
      delete rest['$id'];
      return [id, rest];
    }),
  );
}
