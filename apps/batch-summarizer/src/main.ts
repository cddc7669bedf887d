import 'reflect-metadata';
import { runService } from '@pipeline/platform';
import { summarizerService } from './service';

void runService(summarizerService);
