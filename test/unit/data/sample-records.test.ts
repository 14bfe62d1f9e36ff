/**
 * The dialect guess splits a sample without quotes by lines and delimiters itself (csv.ts splitRecords) instead of
 * running csv-parse on it: the records and their line numbers must be csv-parse's, whatever the line ends.
 */
import { describe, expect, it } from 'vitest'
import { parsedRecords, sampleRecords } from '../../../main/data/csv'
import { seededRandom } from '../../../main/core/random'

describe('sample records without quotes', () => {
  it('are the records csv-parse reads, line numbers included', () => {
    const texts = [
      'a,b,c\n1,2,3\n4,5,6\n',
      'a,b,c\r\n1,2,3\r\n4,5,6',
      'a;b\r1;2\r3;4\r',
      '\n\na,b\n\n1,2\r\n\r\n3,4\n\n',
      'a,b,\n1,2,\n,,\n , \n',
      'one\ntwo\n\nthree',
      'x\ty\n1\t2\n3\t\t4\n',
      'a,b\r\n\r1,2\n\r\n3,4'
    ]
    // And generated ones: any mix of fields, delimiters, line ends and blank lines.
    const random = seededRandom(3)
    const pieces = ['1', 'ab', ' ', '', ',', ';', '\t', '\n', '\r\n', '\r', '\n\n', 'é', '2.5']
    for (let t = 0; t < 300; t++)
      texts.push(Array.from({ length: 1 + Math.floor(random() * 60) }, () => pieces[Math.floor(random() * pieces.length)]).join(''))
    for (const text of texts)
      for (const delimiter of [',', ';', '\t'])
        for (const limit of [3, 200])
          expect(sampleRecords(text, delimiter, limit), JSON.stringify(text)).toEqual(parsedRecords(text, delimiter, limit, '"', '"'))
  })

  it('leaves a sample with the quote character to csv-parse', () => {
    expect(sampleRecords('a,b\n"1,5",2\n', ',', 10)).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { fields: ['1,5', '2'], line: 2 }
    ])
  })
})
