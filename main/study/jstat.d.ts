/** The part of jStat (https://github.com/jstat/jstat) LayerLab uses: Student's t distribution. */
declare module 'jstat' {
  export const jStat: {
    studentt: {
      cdf(x: number, dof: number): number
      inv(p: number, dof: number): number
    }
  }
}
