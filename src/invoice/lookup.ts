import type { XmlElement } from './xml.js';

/**
 * Elements by path of local names, as `at`, `all` and `textAt` of xml.ts, for the code that looks
 * up many fields of every invoice (the SdI checks, the invoice keys). The structure check gives
 * each declared element the model's own name string (src/rules/structure.ts), an interned one;
 * the steps of a path are interned here too, once per path, so that a lookup compares names by
 * reference instead of character by character (a parsed name is a slice of the document text,
 * and a comparison of two slices of equal length costs a call into the engine).
 */

/**
 * A string equal to `s` that is interned (V8 keeps one copy of each property name, and gives
 * back that copy as the key).
 */
export const intern = (s: string): string => Object.keys({ [s]: 0 })[0] as string;

/** The steps of slash paths, split once each (the paths are the callers' constants). */
const STEPS = new Map<string, readonly string[]>();
function steps(path: string): readonly string[] {
  let s = STEPS.get(path);
  if (s === undefined) {
    s = path.split('/').map(intern);
    if (STEPS.size < 1024) STEPS.set(path, s);
  }
  return s;
}

/** The first child of `el` named `name`. */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (el === undefined) return undefined;
  const kids = el.children;
  for (let i = 0; i < kids.length; i++) {
    const k = kids[i] as XmlElement;
    if (k.name === name) return k;
  }
  return undefined;
}

/** First element at a slash-separated path of local names below `el`. */
export function at(el: XmlElement | undefined, path: string): XmlElement | undefined {
  const s = steps(path);
  let cur = el;
  for (let i = 0; i < s.length && cur !== undefined; i++) cur = child(cur, s[i] as string);
  return cur;
}

/** Text (trimmed) at a path, or undefined when the element is absent. */
export function textAt(el: XmlElement | undefined, path: string): string | undefined {
  const e = at(el, path);
  return e === undefined ? undefined : e.text.trim();
}

/** Every element at a slash-separated path of local names below `el`. */
export function all(el: XmlElement | undefined, path: string): XmlElement[] {
  let cur: XmlElement[] = el ? [el] : [];
  const s = steps(path);
  for (let i = 0; i < s.length; i++) {
    const seg = s[i] as string;
    const next: XmlElement[] = [];
    for (let j = 0; j < cur.length; j++) {
      const kids = (cur[j] as XmlElement).children;
      for (let k = 0; k < kids.length; k++)
        if ((kids[k] as XmlElement).name === seg) next.push(kids[k] as XmlElement);
    }
    cur = next;
  }
  return cur;
}
