/**
 * Italian fiscal identifiers, checked offline: the form and check character only. SdI also
 * checks that they exist (and have not ceased) in the Anagrafe Tributaria, which cannot be done
 * offline (digest §6.2).
 */

/** The office codes (digits 8-10) above 100 that are valid too. */
const SPECIAL_OFFICES = new Set([120, 121, 888, 999]);

/** Partita IVA (and 11-digit codice fiscale of legal persons): Luhn mod 10 plus the office code. */
export function isValidPartitaIva(s: string): boolean {
  if (!/^[0-9]{11}$/.test(s)) return false;
  if (/^0{7}/.test(s)) return false;
  const office = Number(s.slice(7, 10));
  if (!((office >= 1 && office <= 100) || SPECIAL_OFFICES.has(office))) return false;
  let sum = 0;
  for (let i = 0; i < 11; i++) {
    let d = s.charCodeAt(i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

/** Codice fiscale: 16 characters with omocodia letters and check character, or 11 digits. */
export function isValidCodiceFiscale(s: string): boolean {
  if (/^[0-9]{11}$/.test(s)) return isValidPartitaIva(s);
  const cf = s.toUpperCase();
  if (!/^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$/.test(cf))
    return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = cf.charCodeAt(i);
    const v = c <= 57 ? c - 48 : c - 65; // digits 0-9 and letters A-Z both map to 0-25 indices
    sum += i % 2 === 0 ? (ODD[v] as number) : v;
  }
  return String.fromCharCode(65 + (sum % 26)) === cf[15];
}
