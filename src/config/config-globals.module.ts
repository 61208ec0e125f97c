import { Global, Module } from '@nestjs/common';
import { AppConfig } from './app-config.js';

/** Makes the typed AppConfig injectable everywhere. */
@Global()
@Module({ providers: [AppConfig], exports: [AppConfig] })
export class ConfigGlobalsModule {}
