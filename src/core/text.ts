/** Checks of free text a user gives (names, paths, URLs): one definition of "control character". */

// Deliberate: C0 controls and DEL are what these checks look for.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE = /[\s\u0000-\u001f\u007f]/;

/** True when `text` holds a C0 control character or DEL (a newline in a name, an escape in a path). */
export const hasControlChars = (text: string): boolean => CONTROL.test(text);

/** True when `text` holds white space, a C0 control character or DEL (a URL or single word). */
export const hasSpaceOrControlChars = (text: string): boolean => CONTROL_OR_SPACE.test(text);
