import * as D from '../../defaults.js';

/**
 * The AWS Query protocol's response side: `<{Action}Response>` with `<{Action}Result>`
 * and `<ResponseMetadata>`, or `<ErrorResponse>`; lists are wrapped elements whose
 * items carry the member name of the service model (`DBClusters` > `DBCluster`).
 */
export const RDS_XML_NAMESPACE = `http://rds.amazonaws.com/doc/${D.RDS_API_VERSION}/`;

export class XmlList {
  constructor(
    readonly member: string,
    readonly items: readonly XmlValue[],
  ) {}
}

export type XmlValue = string | number | boolean | Date | null | undefined | XmlList | XmlObject;
export interface XmlObject {
  readonly [element: string]: XmlValue;
}

/** A list whose items are `<member>` elements named by the model. */
export function xmlList(member: string, items: readonly XmlValue[]): XmlList {
  return new XmlList(member, items);
}

/** `result` null: an operation without output (AddTagsToResource) answers with the metadata alone. */
export function renderResult(action: string, result: XmlObject | null, requestId: string): string {
  return document(
    `<${action}Response xmlns="${RDS_XML_NAMESPACE}">` +
      element(`${action}Result`, result) +
      element('ResponseMetadata', { RequestId: requestId }) +
      `</${action}Response>`,
  );
}

export function renderError(error: { code: string; message: string; type: 'Sender' | 'Receiver' }, requestId: string): string {
  return document(
    `<ErrorResponse xmlns="${RDS_XML_NAMESPACE}">` +
      element('Error', { Type: error.type, Code: error.code, Message: error.message }) +
      element('RequestId', requestId) +
      '</ErrorResponse>',
  );
}

function document(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${body}\n`;
}

/** Absent values (null, undefined) produce no element at all, as in AWS responses. */
function element(name: string, value: XmlValue): string {
  if (value === null || value === undefined) return '';
  if (value instanceof XmlList) return `<${name}>${value.items.map((item) => element(value.member, item)).join('')}</${name}>`;
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (typeof value === 'object') {
    return `<${name}>${Object.entries(value)
      .map(([child, v]) => element(child, v))
      .join('')}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}
