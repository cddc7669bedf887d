import { S3ServiceException } from '@aws-sdk/client-s3';
import { s3Failure } from './failure';

/** A failed answer typed as the object client types them (see S3ObjectStore.refused). */
const answered = (status: number, name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('s3Failure', () => {
  it.each([
    [507, 'XMinioStorageFull'],
    [503, 'SlowDown'],
    [500, 'InternalError'],
    [403, 'AccessDenied'],
    [404, 'NoSuchBucket'],
  ])('waits out %d %s: it fails every request alike until mended', (status, name) => {
    const err = s3Failure('PutObject', answered(status, name));
    expect(err).toMatchObject({ dependency: 's3', retryable: true, code: `${status}_${name}` });
    expect(err.message).toBe(`S3 PutObject failed: HTTP ${status} ${name}`);
  });

  it.each([
    [400, 'InvalidArgument'],
    [411, 'MissingContentLength'],
    [413, 'EntityTooLarge'],
    [414, 'KeyTooLongError'],
  ])('gives up on %d %s: the request itself is refused', (status, name) => {
    expect(s3Failure('PutObject', answered(status, name))).toMatchObject({ retryable: false, code: `${status}_${name}` });
  });

  it('reads the status of the SDK’s own exceptions', () => {
    const sdk = new S3ServiceException({ name: 'EntityTooLarge', $fault: 'client', $metadata: { httpStatusCode: 413 } });
    expect(s3Failure('ListObjectsV2', sdk)).toMatchObject({ retryable: false, code: '413_EntityTooLarge' });
  });

  it('waits out a failure without an answer (connection refused, timeout)', () => {
    const err = s3Failure('HeadBucket', new Error('connect ECONNREFUSED 127.0.0.1:9000'));
    expect(err).toMatchObject({ retryable: true, code: 'unavailable', message: 'S3 HeadBucket failed: connect ECONNREFUSED 127.0.0.1:9000' });
  });
});
