// Placeholder public entry point; the real API replaces this file.
import { native } from './native';

/** Version of the native core (matches the package version). */
export const version = native.version;
