// The library's version: package.json's, which a test keeps equal to the
// kernel's (common/version.h) so the two move together.
//
// SPDX-License-Identifier: Apache-2.0
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = (require('../../package.json') as { version: string }).version;
