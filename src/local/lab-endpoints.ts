/**
 * The lab's clusters under realistic names. The RDS stand-in reports these endpoints,
 * the Route 53 records point at them, and `hostOverrides` in config/local.yaml sends
 * every name under LAB_DOMAIN to loopback, where each cluster has its own port.
 */
export const LAB_DOMAIN = 'lab.pgshift.internal';
export const LAB_HOSTED_ZONE = LAB_DOMAIN;
export const LAB_REGION = 'us-east-1';
export const LAB_ACCOUNT = '000000000000';
export const LAB_PAIR = 'demo';

export type LabClusterSide = 'blue' | 'green';

export function labClusterId(side: LabClusterSide, pair = LAB_PAIR): string {
  return `${pair}-${side}`;
}

export function labEndpoint(clusterId: string, kind: 'writer' | 'reader'): string {
  return `${clusterId}.${kind === 'writer' ? 'cluster' : 'cluster-ro'}-c0lab.${LAB_REGION}.rds.${LAB_DOMAIN}`;
}

export function labRecordName(kind: 'writer' | 'reader', pair = LAB_PAIR): string {
  return `${kind}.${pair}.${LAB_DOMAIN}`;
}
