/**
 * What a web-shell upload stands for. The browser sends every file with its path inside what the user chose (a
 * folder upload: "test/coat/1.png"); the server stores them under one batch folder. The request that follows must
 * name the same thing the CLI would be given — the file itself, or the chosen folder — and not the batch folder
 * above it, whose only subfolder ("test") would otherwise be taken for the one class of every image.
 */

/** The part of an upload the user picked: one file, one folder (its name), or several loose files. */
export type UploadChoice = { kind: 'file' } | { kind: 'folder'; name: string } | { kind: 'files' }

export function uploadChoice(relativePaths: string[]): UploadChoice {
  const parts = relativePaths.map((p) => p.split('/').filter(Boolean))
  const [first] = parts
  if (!first) return { kind: 'files' }
  if (parts.length === 1 && first.length === 1) return { kind: 'file' }
  const top = first[0]!
  // A folder when every file sits below the same top folder; loose files (dropped together) are the batch itself.
  if (parts.every((p) => p.length > 1 && p[0] === top)) return { kind: 'folder', name: top }
  return { kind: 'files' }
}

/**
 * The stored path of what the user picked, from the batch folder and the stored path of the first file (both as
 * the server wrote them, with its own separators): the file, the chosen folder, or the batch folder.
 */
export function uploadedTarget(choice: UploadChoice, batchDir: string, firstStoredPath: string): string {
  if (choice.kind === 'file') return firstStoredPath
  if (choice.kind === 'files') return batchDir
  // batchDir + separator + the folder's name: cut from the stored path, so the server's separator is kept.
  return firstStoredPath.slice(0, batchDir.length + 1 + choice.name.length)
}
