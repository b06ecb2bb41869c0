import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { InboundHandler } from '../../../src/pipeline/inbound.js';
import { Store } from '../../../src/store/store.js';
import { tempDir } from '../../helpers/tmp.js';
import { invoice, type Invoice } from '../content/helpers.js';

/**
 * Received invoices are judged by the rules in force on the day SdI received them (the MT's
 * DataOraRicezione when it carries one, else the time they arrive), and without the advice
 * meant for whoever sends an invoice (RECIPIENT-RESERVED-AREA).
 */

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function setup() {
  const t = tempDir('fatturad-received-');
  const config = loadConfig({ env: { FATTURAD_DATA_DIR: t.dir }, cwd: t.dir });
  config.passive.importDir = path.join(t.dir, 'inbox');
  const store = new Store(config.paths.db);
  const handler = new InboundHandler(store, config, pino({ level: 'silent' }));
  cleanups.push(() => {
    store.close();
    t.cleanup();
  });
  return { handler, store };
}

const ids: Invoice = {
  trasmittente: '06363391001',
  cedente: { paese: 'IT', codice: '06363391001' },
  cessionario: { paese: 'IT', codice: '00488410010' },
};

const mt = (dataOraRicezione?: string): Buffer =>
  Buffer.from(
    '<ns:FileMetadati xmlns:ns="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fattura/messaggi/v1.0" versione="1.0">' +
      '<IdentificativoSdI>900</IdentificativoSdI><NomeFile>IT06363391001_00009.xml</NomeFile>' +
      (dataOraRicezione ? `<DataOraRicezione>${dataOraRicezione}</DataOraRicezione>` : '') +
      '<Hash>00</Hash><CodiceDestinatario>0000000</CodiceDestinatario><Formato>FPR12</Formato>' +
      '<TentativiInvio>1</TentativiInvio><MessageId>1</MessageId></ns:FileMetadati>',
  );

async function receive(xml: string, metadata: Buffer) {
  const { handler, store } = setup();
  await handler.handle({
    type: 'invoice',
    channel: 'sdicoop',
    identificativoSdI: '900',
    fileName: 'IT06363391001_00009.xml',
    bytes: Buffer.from(xml),
    metadataName: 'IT06363391001_00009_MT_001.xml',
    metadata,
  });
  const [row] = store.listPassive();
  return { valid: row?.valid, codes: (row?.warnings as { code: string }[]).map((w) => w.code) };
}

describe('received invoices', () => {
  it('never carry RECIPIENT-RESERVED-AREA (SdI has delivered them already)', async () => {
    const r = await receive(invoice({ ...ids, codiceDestinatario: '0000000' }), mt());
    expect(r).toEqual({ valid: true, codes: [] });
  });

  it("are judged as of the MT's DataOraRicezione: a TD29 received on 2025-03-31 predates format 1.2.3", async () => {
    const xml = invoice({ ...ids, bodies: [{ tipo: 'TD29', data: '2025-03-20' }] });
    const then = await receive(xml, mt('2025-03-31T10:00:00.000+02:00'));
    expect(then).toEqual({ valid: false, codes: ['00200'] });
    // Without a reception time in the MT: as of now, when it arrives.
    expect(await receive(xml, mt())).toEqual({ valid: true, codes: [] });
  });

  it("00403 compares the invoice date with SdI's reception day, in Italy", async () => {
    const xml = invoice({ ...ids, bodies: [{ data: '2025-04-01' }] });
    // 2025-03-31T22:30:00Z is 00:30 on 1 April in Rome.
    expect((await receive(xml, mt('2025-03-31T22:30:00Z'))).codes).toEqual([]);
    expect((await receive(xml, mt('2025-03-31T21:30:00Z'))).codes).toEqual(['00403']);
  });
});
