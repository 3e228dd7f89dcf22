/**
 * A generated section of a document (README.md or docs/), between two marker comments: the IAM table of calls and the request budget
 * are each written there by their script and checked against it by a test.
 */
export interface ReadmeSection {
  readonly start: string;
  readonly end: string;
}

/** The document with the section's content replaced; throws when it has no place for it. */
export function withSection(readme: string, section: ReadmeSection, content: string): string {
  const start = readme.indexOf(section.start);
  const end = readme.indexOf(section.end);
  if (start < 0 || end < start) throw new Error(`the document has no ${section.start} ... ${section.end} section`);
  return `${readme.slice(0, start + section.start.length)}\n${content}\n${readme.slice(end)}`;
}
