/** Locations shared by the tests (compiled to out/test/, so the package root is two up). */
import * as path from 'path';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
export const SRC = path.join(PACKAGE_ROOT, 'src');
