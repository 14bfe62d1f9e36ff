/** What a drop of files or a folder holds, with each file's path below what was dropped (the File System entries API). */

export interface DroppedFile {
  /** The file's path inside what was dropped: the file name, or "folder/class/file.png". */
  relativePath: string
  file: File
}

async function readEntry(entry: FileSystemEntry, prefix: string, out: DroppedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject))
    out.push({ relativePath: prefix + entry.name, file })
    return
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader()
  // readEntries answers in chunks (about 100 at a time): read until it returns none.
  for (;;) {
    const chunk = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject))
    if (!chunk.length) break
    for (const child of chunk) await readEntry(child, `${prefix}${entry.name}/`, out)
  }
}

/** The first dropped item (a file, or a folder read recursively), as an upload takes it. */
export async function droppedFiles(event: DragEvent): Promise<DroppedFile[]> {
  const out: DroppedFile[] = []
  const entries = Array.from(event.dataTransfer?.items ?? [])
    .map((item) => item.webkitGetAsEntry?.())
    .filter((e): e is FileSystemEntry => Boolean(e))
  if (entries.length) {
    for (const entry of entries.slice(0, 1)) await readEntry(entry, '', out)
  } else {
    for (const file of Array.from(event.dataTransfer?.files ?? []).slice(0, 1)) out.push({ relativePath: file.name, file })
  }
  return out
}

/** The files an <input type=file> holds, each with its path inside the chosen folder (or its name). */
export function inputFiles(input: HTMLInputElement): DroppedFile[] {
  return Array.from(input.files ?? []).map((file) => ({ relativePath: file.webkitRelativePath || file.name, file }))
}
