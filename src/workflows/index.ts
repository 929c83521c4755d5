export { benchmarkWorkflow } from './benchmark';
export { vmWorkflow } from './vm';
