import { pathKey, stripQueryAndFragment } from './path';

describe('stripQueryAndFragment', () => {
  it.each([
    ['/', '/'],
    ['/about', '/about'],
    ['/a?x=1', '/a'],
    ['/a#frag', '/a'],
    ['/a?x=1#f', '/a'],
    ['/a#f?x=1', '/a'],
    ['/?', '/'],
    ['/#', '/'],
    ['/?x=1', '/'],
    ['/api/users/', '/api/users/'],
    ['/a%3Fb', '/a%3Fb'],
    ['/search?q=a?b', '/search'],
  ])('%s -> %s', (path, expected) => {
    expect(stripQueryAndFragment(path)).toBe(expected);
  });
});

describe('pathKey', () => {
  it.each([
    ['GET', '/', 'GET /'],
    ['GET', '/a?x=1#f', 'GET /a'],
    ['get', '/about', 'GET /about'],
    ['Post', '/api/users?page=2', 'POST /api/users'],
    ['delete', '/items/42#top', 'DELETE /items/42'],
    ['PROPFIND', '/dav/', 'PROPFIND /dav/'],
    ['m-search', '/', 'M-SEARCH /'],
  ])('%s %s -> %s', (method, path, expected) => {
    expect(pathKey(method, path)).toBe(expected);
  });

  it('keeps path case and encoding as sent (only the method is normalized)', () => {
    expect(pathKey('get', '/About/%7Euser')).toBe('GET /About/%7Euser');
  });
});
