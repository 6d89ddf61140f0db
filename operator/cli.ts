#!/usr/bin/env node
// The image's /usr/local/bin/berth-operator runs this file (see Dockerfile); package.json's bin points at
// operator/main.ts. Both are the same program.
import './main.ts';
