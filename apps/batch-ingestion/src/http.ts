import { ArgumentsHost, Catch, Controller, ExceptionFilter, Get, Header, HttpException, Inject, Post, Req, Res } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyReply, FastifyRequest } from 'fastify';
import { Server } from 'node:http';
import { Readable } from 'node:stream';
import { Logger } from 'pino';
import { errorCodeOfStatus, logsOpenApiDocument, MAX_BATCH_BYTES } from '@pipeline/batch';
import { discardRest } from './body-reader';
import { Answer, IngestionHandler, errorBody } from './handler';
import { IngestionMetrics } from './metrics';

export const INGESTION_HANDLER = Symbol('INGESTION_HANDLER');

const JSON_TYPE = 'application/json; charset=utf-8';
/** What an early answer lets the client still send before the connection is cut. */
const DISCARD_BOUNDS = { maxBytes: 8 * MAX_BATCH_BYTES, maxMs: 2_000 };

function send(reply: FastifyReply, a: Answer): void {
  reply.code(a.status).headers({ ...a.headers, 'content-type': JSON_TYPE }).send(JSON.stringify(a.body));
}

/** Built once: it depends on nothing configurable. */
const OPENAPI_JSON = JSON.stringify(logsOpenApiDocument());

@Controller()
export class LogsController {
  constructor(@Inject(INGESTION_HANDLER) private readonly handler: IngestionHandler) {}

  /** The contract of POST /logs; public like the contract itself (it holds no secret), so no token. */
  @Get('openapi.json')
  @Header('content-type', JSON_TYPE)
  openApi(): string {
    return OPENAPI_JSON;
  }

  @Post('logs')
  async ingest(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const answer = await this.handler.handle(req.headers, req.body as Readable | undefined);
    if (!answer.send) {
      reply.hijack(); // the client is gone; there is no one to answer
      return;
    }
    send(reply, answer);
    if (answer.unreadBody) discardRest(req.raw, DISCARD_BOUNDS);
  }
}

/**
 * Every error leaves as `{ error: { code, message } }`, never a stack trace. Readiness answers are
 * the exception: their 503 body is the health report itself.
 */
@Catch()
export class JsonErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 503 && request.url.startsWith('/health/')) {
        reply.code(status).send(exception.getResponse());
        return;
      }
      const message = status === 404 ? `No route for ${request.method} ${request.url.split('?')[0]}` : exception.message;
      reply.code(status).header('content-type', JSON_TYPE).send(JSON.stringify(errorBody(errorCodeOfStatus(status), message)));
      return;
    }
    this.logger.error({ err: exception, method: request.method, url: request.url }, 'unhandled error');
    reply.code(500).header('content-type', JSON_TYPE).send(JSON.stringify(errorBody('internal_error', 'Unexpected error.')));
  }
}

export interface HttpSetup {
  metrics: IngestionMetrics;
  logger: Logger;
  /** True once shutdown began: answers then close their connection so the server can drain. */
  isDraining: () => boolean;
  /** The handler answers a slow body 408 after this; the server cuts requests that never get that far. */
  bodyTimeoutMs: number;
}

/**
 * Fastify-level wiring: request bodies reach the handler as raw streams (it limits, decompresses
 * and hashes them itself), every response is timed by route pattern, and errors are JSON.
 */
export function configureHttp(app: NestFastifyApplication, setup: HttpSetup): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  fastify.addHook('onSend', async (_req, reply, payload) => {
    if (setup.isDraining()) reply.header('connection', 'close');
    return payload;
  });
  fastify.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions?.url ?? 'unmatched';
    setup.metrics.httpDuration.observe({ route, method: req.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.useGlobalFilters(new JsonErrorFilter(setup.logger));
  // Backstop behind the handler's own body deadline, for requests that never reach the handler
  // (headers trickling in).
  (app.getHttpServer() as Server).requestTimeout = setup.bodyTimeoutMs + 10_000;
}
