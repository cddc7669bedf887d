import { diffAggregates, OTHER_PATH_KEY } from './aggregates';

const window = (paths: Record<string, number>) => new Map([['cus-a|1766944980', { total: Object.values(paths).reduce((a, b) => a + b, 0), paths, uas: { curl: Object.values(paths).reduce((a, b) => a + b, 0) } }]]);

describe('diffAggregates of a window whose paths were folded', () => {
  const expected = window({ 'GET /a': 3, 'GET /b': 2, 'GET /c': 1 });

  it('accepts the paths shown with their exact counts and the rest under (other)', () => {
    expect(diffAggregates(expected, window({ 'GET /a': 3, [OTHER_PATH_KEY]: 3 }))).toEqual([]);
    expect(diffAggregates(expected, window({ 'GET /b': 2, 'GET /c': 1, [OTHER_PATH_KEY]: 3 }))).toEqual([]);
  });

  it('refuses a shown path with another count in a minute, or an (other) that is not the rest', () => {
    expect(diffAggregates(expected, window({ 'GET /a': 2, 'GET /b': 2, [OTHER_PATH_KEY]: 2 }))).toEqual([expect.stringContaining('path "GET /a" 2 (expected 3)')]);
    expect(diffAggregates(expected, window({ 'GET /a': 3, 'GET /x': 1, [OTHER_PATH_KEY]: 2 }))).toEqual([expect.stringContaining('path "GET /x" 1 (expected none)')]);
  });

  it('allows a shown path below its count in an hour or a day, never above it', () => {
    expect(diffAggregates(expected, window({ 'GET /a': 2, 'GET /b': 2, [OTHER_PATH_KEY]: 2 }), 20, 'hour')).toEqual([]);
    expect(diffAggregates(expected, window({ 'GET /a': 4, [OTHER_PATH_KEY]: 2 }), 20, 'day')).toEqual([expect.stringContaining('path "GET /a" 4 (expected at most 3)')]);
  });
});
