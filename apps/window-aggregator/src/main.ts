import 'reflect-metadata';
import { runService } from '@pipeline/platform';
import { aggregatorService } from './service';

void runService(aggregatorService);
