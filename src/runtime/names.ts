/** Queue names: letters, digits, `_` and `-`, up to 40 characters (the construct builds resource names from them). */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,40}$/;

/** Environment variable names a secret may fill: upper-case letters, digits and `_`, not starting with a digit. */
export const SECRET_NAME_PATTERN = /^[A-Z_][A-Z0-9_]*$/;
