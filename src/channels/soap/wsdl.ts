import {
  CODE_LISTS,
  ELEMENT_TYPE_OF,
  ELEMENT_TYPES,
  SERVICES,
  type FieldDef,
  type ServiceName,
} from './services.js';

/**
 * The WSDL 1.1 documents fatturad serves (GET <endpoint>?wsdl), generated from the services
 * table with the types inline: same operations, SOAP actions, namespaces, messages, parts and
 * element names as the specification's (a test compares them with the official files).
 */

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

function simpleType(name: string): string {
  if (name === 'identificativoSdI_Type')
    return `<xsd:simpleType name="${name}"><xsd:restriction base="xsd:integer"><xsd:totalDigits value="12"/></xsd:restriction></xsd:simpleType>`;
  if (name === 'nomeFile_Type')
    return `<xsd:simpleType name="${name}"><xsd:restriction base="xsd:string"><xsd:pattern value="[a-zA-Z0-9_\\.]{9,50}"/></xsd:restriction></xsd:simpleType>`;
  const codes = CODE_LISTS[name] ?? {};
  return `<xsd:simpleType name="${name}"><xsd:restriction base="xsd:string">${Object.keys(codes)
    .map((c) => `<xsd:enumeration value="${c}"/>`)
    .join('')}</xsd:restriction></xsd:simpleType>`;
}

function field(f: FieldDef): string {
  const occurs = f.optional ? ' minOccurs="0" maxOccurs="1"' : '';
  if (f.type === 'base64Binary')
    return `<xsd:element name="${f.name}" type="xsd:base64Binary" xmime:expectedContentTypes="*/*"${occurs}/>`;
  if (f.name === 'ScartoEsito')
    return `<xsd:element name="${f.name}" type="types:fileSdIBase_Type"${occurs}/>`;
  const type = f.typeName ? `types:${f.typeName}` : `xsd:${f.type}`;
  return `<xsd:element name="${f.name}" type="${type}"${occurs}/>`;
}

/** The WSDL of `service`, its soap:address set to `endpointUrl`. */
export function wsdlFor(service: ServiceName, endpointUrl: string): string {
  const s = SERVICES[service];
  const elements = new Set<string>();
  for (const op of s.operations) {
    elements.add(op.input.element);
    if (op.output) elements.add(op.output.element);
  }
  const complex = new Set<string>([...elements].map((e) => ELEMENT_TYPE_OF[e] as string));
  if (complex.has('rispostaSdINotificaEsito')) complex.add('fileSdIBase');
  const simple = new Set<string>();
  for (const c of complex)
    for (const f of ELEMENT_TYPES[c]?.fields ?? [])
      if (f.typeName && f.name !== 'ScartoEsito') simple.add(f.typeName);

  const types = [
    ...[...elements].map(
      (e) =>
        `<xsd:element name="${e}" type="types:${ELEMENT_TYPES[ELEMENT_TYPE_OF[e] as string]?.typeName ?? ''}"/>`,
    ),
    ...[...complex].map((c) => {
      const t = ELEMENT_TYPES[c];
      return t
        ? `<xsd:complexType name="${t.typeName}"><xsd:sequence>${t.fields.map(field).join('')}</xsd:sequence></xsd:complexType>`
        : '';
    }),
    ...[...simple].map(simpleType),
  ].join('\n      ');

  const messages = s.operations
    .flatMap((op) => [op.input, ...(op.output ? [op.output] : [])])
    .map(
      (m) =>
        `<wsdl:message name="${m.message}"><wsdl:part name="${m.part}" element="types:${m.element}"/></wsdl:message>`,
    )
    .join('\n  ');
  const portOps = s.operations
    .map(
      (op) =>
        `<wsdl:operation name="${op.name}"><wsdl:input message="tns:${op.input.message}"/>${op.output ? `<wsdl:output message="tns:${op.output.message}"/>` : ''}</wsdl:operation>`,
    )
    .join('\n    ');
  const bindOps = s.operations
    .map(
      (op) =>
        `<wsdl:operation name="${op.name}"><soapbind:operation soapAction="${op.soapAction}"/><wsdl:input><soapbind:body use="literal"/></wsdl:input>${op.output ? '<wsdl:output><soapbind:body use="literal"/></wsdl:output>' : ''}</wsdl:operation>`,
    )
    .join('\n    ');

  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- ${s.name}: written by fatturad from the SDICoop specification -->
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
  xmlns:soapbind="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:types="${s.typesNamespace}"
  xmlns:tns="${s.targetNamespace}" targetNamespace="${s.targetNamespace}">
  <wsdl:types>
    <xsd:schema targetNamespace="${s.typesNamespace}" xmlns:xmime="http://www.w3.org/2005/05/xmlmime">
      ${types}
    </xsd:schema>
  </wsdl:types>
  ${messages}
  <wsdl:portType name="${s.portType}">
    ${portOps}
  </wsdl:portType>
  <wsdl:binding name="${s.binding}" type="tns:${s.portType}">
    <soapbind:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    ${bindOps}
  </wsdl:binding>
  <wsdl:service name="${s.service}">
    <wsdl:port name="${s.port}" binding="tns:${s.binding}"><soapbind:address location="${esc(endpointUrl)}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`;
}
