import { describe, expect, it } from 'vitest';
import * as ft from 'ferrite';

describe('build pipeline smoke test', () => {
  it('loads the native addon through the package entry point', () => {
    expect(ft.version()).toBe('0.1.0');
  });

  it('runs with --expose-gc', () => {
    expect(typeof globalThis.gc).toBe('function');
  });
});
