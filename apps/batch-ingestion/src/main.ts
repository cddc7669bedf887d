import 'reflect-metadata';
import { runService } from '@pipeline/platform';
import { ingestionService } from './service';

void runService(ingestionService);
