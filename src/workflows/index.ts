export { benchmarkWorkflow } from './benchmark';
export { vmWorkflow } from './vm';
export { suiteRunWorkflow } from './suite';
export { bisectWorkflow } from './bisect';
export { vmGroupWorkflow } from './vm-group';
