import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { validateEnvironment } from './environment.js';
import { thrownBy } from '../../test/support/thrown.js';

function errorOf(raw: Record<string, unknown>): Error {
  return thrownBy(() => validateEnvironment(raw), Error);
}

const ALL_VARIABLES = ['PORT', 'DATABASE_URL', 'DATA_DIR', 'DB_POOL_SIZE', 'MAX_BODY', 'LOG_LEVEL'];

describe('validateEnvironment', () => {
  it('gives the documented defaults for an empty environment', () => {
    const environment = validateEnvironment({});
    expect(environment).toMatchObject({
      PORT: 3000,
      DATA_DIR: './data',
      DB_POOL_SIZE: 10,
      DB_PREPARED_STATEMENTS: 200,
      MAX_BODY: 1024 * 1024,
      LOG_LEVEL: 'info',
    });
    expect(environment.DATABASE_URL).toBeUndefined();
  });

  it('treats empty strings and undefined as unset', () => {
    const environment = validateEnvironment({
      PORT: '',
      DATABASE_URL: '',
      DATA_DIR: '',
      DB_POOL_SIZE: '',
      MAX_BODY: undefined,
      LOG_LEVEL: '',
    });
    expect(environment.PORT).toBe(3000);
    expect(environment.DATABASE_URL).toBeUndefined();
    expect(environment.DATA_DIR).toBe('./data');
    expect(environment.DB_POOL_SIZE).toBe(10);
    expect(environment.MAX_BODY).toBe(1024 * 1024);
    expect(environment.LOG_LEVEL).toBe('info');
  });

  it('reads the values it is given, as numbers where they are numbers', () => {
    const environment = validateEnvironment({
      PORT: '8080',
      DATABASE_URL: 'postgres://user:secret@db:5432/identity',
      DATA_DIR: '/var/lib/identity',
      DB_POOL_SIZE: '25',
      DB_PREPARED_STATEMENTS: '0',
      MAX_BODY: '2mb',
      LOG_LEVEL: 'debug',
    });
    expect(environment).toMatchObject({
      PORT: 8080,
      DATABASE_URL: 'postgres://user:secret@db:5432/identity',
      DATA_DIR: '/var/lib/identity',
      DB_POOL_SIZE: 25,
      DB_PREPARED_STATEMENTS: 0,
      MAX_BODY: 2 * 1024 * 1024,
      LOG_LEVEL: 'debug',
    });
  });

  it('does not validate variables it does not know (the rest of process.env)', () => {
    const environment = validateEnvironment({ HOME: '', PATH: 'anything at all', NODE_OPTIONS: '--x', PORT: '3001' });
    expect(environment.PORT).toBe(3001);
  });

  it('accepts PORT at its bounds and with surrounding spaces', () => {
    expect(validateEnvironment({ PORT: '0' }).PORT).toBe(0);
    expect(validateEnvironment({ PORT: '65535' }).PORT).toBe(65535);
    expect(validateEnvironment({ PORT: ' 4000 ' }).PORT).toBe(4000);
  });

  it('accepts postgresql:// URLs too', () => {
    expect(validateEnvironment({ DATABASE_URL: 'postgresql://localhost/db' }).DATABASE_URL).toBe('postgresql://localhost/db');
  });

  it.each([
    ['1mb', 1024 * 1024],
    ['512kb', 512 * 1024],
    ['512KB', 512 * 1024],
    ['2MB', 2 * 1024 * 1024],
    ['64mb', 64 * 1024 * 1024],
    ['1kb', 1024],
    ['2048', 2048],
    ['4096b', 4096],
    [' 10 kb ', 10 * 1024],
  ])('parses MAX_BODY=%j as %d bytes', (value, bytes) => {
    expect(validateEnvironment({ MAX_BODY: value }).MAX_BODY).toBe(bytes);
  });

  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])('accepts LOG_LEVEL=%s', (level) => {
    expect(validateEnvironment({ LOG_LEVEL: level }).LOG_LEVEL).toBe(level);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['PORT', '3000x'],
    ['DB_POOL_SIZE', '0'],
    ['DB_POOL_SIZE', '201'],
    ['DB_POOL_SIZE', 'ten'],
    ['DB_PREPARED_STATEMENTS', '-1'],
    ['DB_PREPARED_STATEMENTS', '10001'],
    ['DB_PREPARED_STATEMENTS', 'many'],
    ['MAX_BODY', '1gb'],
    ['MAX_BODY', '1023'],
    ['MAX_BODY', '65mb'],
    ['MAX_BODY', 'lots'],
    ['MAX_BODY', '1.5mb'],
    ['MAX_BODY', '-1kb'],
    ['LOG_LEVEL', 'verbose'],
    ['LOG_LEVEL', 'INFO'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['DATABASE_URL', 'postgres://has space/db'],
    ['DATABASE_URL', 'localhost:5432'],
  ])('refuses %s=%j with one Error naming that variable only', (name, value) => {
    const error = errorOf({ [name]: value });
    expect(error.message.startsWith('Invalid configuration: ')).toBe(true);
    expect(error.message).toContain(name);
    for (const other of ALL_VARIABLES.filter((variable) => variable !== name)) {
      expect(error.message).not.toContain(other);
    }
    // One line per bad variable, however many of its constraints failed.
    expect(error.message.split('; ')).toHaveLength(1);
    expect(error.message).not.toContain('\n');
  });

  it('names every bad variable once in the one error', () => {
    const error = errorOf({ PORT: 'x', DB_POOL_SIZE: '0', LOG_LEVEL: 'loud', DATA_DIR: '/ok' });
    const lines = error.message.replace('Invalid configuration: ', '').split('; ');
    expect(lines).toHaveLength(3);
    expect(lines.some((line) => line.startsWith('PORT '))).toBe(true);
    expect(lines.some((line) => line.startsWith('DB_POOL_SIZE '))).toBe(true);
    expect(lines.some((line) => line.startsWith('LOG_LEVEL '))).toBe(true);
    expect(error.message).not.toContain('DATA_DIR');
  });

  it('does not echo secrets from DATABASE_URL in the error', () => {
    const error = errorOf({ DATABASE_URL: 'mysql://user:hunter2@host/db' });
    expect(error.message).not.toContain('hunter2');
  });

  it('property: any integer string PORT in range is read as that number; out of range is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 200_000 }), (port) => {
        if (port >= 0 && port <= 65535) {
          expect(validateEnvironment({ PORT: String(port) }).PORT).toBe(port);
        } else {
          expect(errorOf({ PORT: String(port) }).message).toContain('PORT');
        }
      }),
    );
  });

  it('property: MAX_BODY in kb is accepted exactly from 1kb to 64mb', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 * 1024 }), (kb) => {
        if (kb >= 1 && kb <= 64 * 1024) {
          expect(validateEnvironment({ MAX_BODY: `${kb}kb` }).MAX_BODY).toBe(kb * 1024);
        } else {
          expect(errorOf({ MAX_BODY: `${kb}kb` }).message).toContain('MAX_BODY');
        }
      }),
    );
  });
});
